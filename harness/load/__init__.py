"""Load runs: many tenants race for their quotas, then a verifier checks.

    plan.py         the tenants of a run, provisioned over the operator API
    users.py        the Locust users (imports locust: its own process only)
    locust_main.py  `python -m harness.load.locust_main`: Locust as a library,
                    headless, as a local runner, a master or a worker
    verify.py       the verifier: the stack's own counts against what clients saw
    command.py      `tenantguard load`: start, provision, race, verify

Importing locust patches the standard library with gevent, so nothing outside
users.py and locust_main.py imports it, and those two run only in the Locust
processes that command.py starts.
"""
