-- Run once by the postgres image on a new data directory.
-- The stack connects as tenantguard_app: it may log in and, once the stack's
-- owner connection has created the tables, read and write rows, but it owns
-- no table and cannot bypass row-level security.
CREATE ROLE tenantguard_app LOGIN PASSWORD 'tenantguard_app' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
GRANT CONNECT ON DATABASE tenantguard TO tenantguard_app;
GRANT USAGE ON SCHEMA public TO tenantguard_app;
