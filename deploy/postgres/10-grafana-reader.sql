-- Runs once, when the postgres container initialises its volume (docker-entrypoint-initdb.d), as
-- the owner role `otasim`. Grafana gets its own login that can only read: its panels run SQL typed
-- by whoever edits a dashboard, so it must not be able to write (Grafana's PostgreSQL data source
-- docs give the same advice). The otasim server creates its tables later, when it migrates, so the
-- grant is a default privilege on tables that role creates.
CREATE ROLE grafana_reader LOGIN PASSWORD 'grafana_reader';
GRANT CONNECT ON DATABASE otasim TO grafana_reader;
GRANT USAGE ON SCHEMA public TO grafana_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO grafana_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE otasim IN SCHEMA public GRANT SELECT ON TABLES TO grafana_reader;
