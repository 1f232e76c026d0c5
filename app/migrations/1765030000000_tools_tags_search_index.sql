-- Up Migration
-- kgraph:no-transaction

-- Search with a tag filter (`?q=...&tag=...`, most of the API's searches) used two GIN indexes and a BitmapAnd:
-- each index built its whole bitmap, so a common term ("report": 18,242 entries at 100k tools) cost its whole
-- posting list even when the tag kept a few hundred rows. One GIN index over both columns answers both
-- conditions in one scan, which skips through the common term's posting list using the rarer key
-- (docs/performance.md has the plans). The single-column indexes stay: a search without a tag, and the tag
-- listing, use them.
-- CONCURRENTLY: tools stays writable while the index builds (no SHARE lock for the build's length); it
-- cannot run in a transaction, hence the mark above. lock_timeout bounds the short waits it still takes.
SET lock_timeout = '5s';
SET statement_timeout = '30min';
CREATE INDEX CONCURRENTLY IF NOT EXISTS tools_tags_search_idx ON tools USING gin (tags, search) WITH (fastupdate = off);

-- Down Migration
-- kgraph:no-transaction
SET lock_timeout = '5s';
DROP INDEX CONCURRENTLY IF EXISTS tools_tags_search_idx;
