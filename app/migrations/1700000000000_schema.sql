-- Up Migration

-- Tools: the nodes of the graph. `search` is kept by a trigger (tags are an array, and array_to_string
-- is not immutable, so a generated column cannot use it). Name weighs most, then tags and category.
CREATE TABLE tools (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 100),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '',
  category    text NOT NULL,
  tags        text[] NOT NULL DEFAULT '{}',
  search      tsvector NOT NULL DEFAULT ''::tsvector,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION tools_search_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.search :=
    setweight(to_tsvector('english', coalesce(NEW.name, '')), 'A') ||
    setweight(to_tsvector('english', array_to_string(NEW.tags, ' ') || ' ' || replace(NEW.slug, '-', ' ')), 'B') ||
    setweight(to_tsvector('english', coalesce(NEW.category, '')), 'C') ||
    setweight(to_tsvector('english', coalesce(NEW.description, '')), 'D');
  RETURN NEW;
END
$$;

CREATE TRIGGER tools_search_trg BEFORE INSERT OR UPDATE OF name, slug, description, category, tags ON tools
  FOR EACH ROW EXECUTE FUNCTION tools_search_update();

-- fastupdate off: a read-mostly catalogue; a pending list would make every search scan it linearly.
CREATE INDEX tools_search_idx ON tools USING gin (search) WITH (fastupdate = off);
CREATE INDEX tools_tags_idx ON tools USING gin (tags) WITH (fastupdate = off);
CREATE INDEX tools_category_name_idx ON tools (category, name, id);
CREATE INDEX tools_name_idx ON tools (name, id);

-- Prompts that drive a tool; they go with it.
CREATE TABLE prompts (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tool_id    uuid NOT NULL REFERENCES tools (id) ON DELETE CASCADE,
  title      text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  template   text NOT NULL CHECK (length(template) BETWEEN 1 AND 10000),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX prompts_tool_idx ON prompts (tool_id, created_at, id);
CREATE INDEX prompts_created_idx ON prompts (created_at, id);

-- Typed, directed edges between tools.
CREATE TYPE relation_kind AS ENUM ('related', 'requires', 'alternative');
CREATE TABLE tool_relations (
  source_id uuid NOT NULL REFERENCES tools (id) ON DELETE CASCADE,
  target_id uuid NOT NULL REFERENCES tools (id) ON DELETE CASCADE,
  kind      relation_kind NOT NULL,
  weight    real NOT NULL DEFAULT 1 CHECK (weight > 0 AND weight <= 1),
  PRIMARY KEY (source_id, target_id, kind),
  CHECK (source_id <> target_id)
);
-- The primary key serves outgoing walks; this one serves incoming ones (the graph is walked both ways).
CREATE INDEX tool_relations_target_idx ON tool_relations (target_id, source_id);

-- Down Migration
DROP TABLE tool_relations;
DROP TYPE relation_kind;
DROP TABLE prompts;
DROP TABLE tools;
DROP FUNCTION tools_search_update();
