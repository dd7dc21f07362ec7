"""tenantguard's attack harness: tools, services, scenarios and reports."""
