-- Up Migration

-- The cache generation: one row whose token changes in every transaction that writes the catalogue.
-- Cache keys carry the token, and every instance reads the current one from here (a cheap primary-key
-- read a few times a second), so a write invalidates every cache on every replica as part of its own
-- COMMIT: no message has to reach Redis or another instance, and Redis coming back with entries from
-- before the write cannot serve them (they sit under an older token). A random uuid rather than a counter:
-- after a failover that lost the last commits, a counter would reuse numbers for other data.
CREATE TABLE cache_generation (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  token      uuid NOT NULL DEFAULT gen_random_uuid(),
  changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO cache_generation DEFAULT VALUES;

CREATE FUNCTION bump_cache_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE cache_generation SET token = gen_random_uuid(), changed_at = now();
  RETURN NULL;
END
$$;

-- BEFORE ... FOR EACH STATEMENT: every statement that writes (any path: the API, the seeder, psql, a
-- cascade) bumps the token, and takes the row lock before any row of its own, so writers queue in one
-- order and cannot deadlock with each other.
CREATE TRIGGER tools_cache_generation BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON tools
  FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation();
CREATE TRIGGER prompts_cache_generation BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON prompts
  FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation();
CREATE TRIGGER tool_relations_cache_generation BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON tool_relations
  FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation();

-- Down Migration
DROP TRIGGER tool_relations_cache_generation ON tool_relations;
DROP TRIGGER prompts_cache_generation ON prompts;
DROP TRIGGER tools_cache_generation ON tools;
DROP FUNCTION bump_cache_generation();
DROP TABLE cache_generation;
