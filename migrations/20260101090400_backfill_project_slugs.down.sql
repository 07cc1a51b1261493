-- Remove projects.slug and its unique constraint.
ALTER TABLE projects DROP CONSTRAINT projects_owner_id_slug_key;
ALTER TABLE projects DROP COLUMN slug;
