-- Add projects.slug, backfill it from name, then make it NOT NULL and unique per owner.
ALTER TABLE projects ADD COLUMN slug text;

UPDATE projects
SET slug = coalesce(
    nullif(trim(BOTH '-' FROM regexp_replace(lower(name), '[^a-z0-9]+', '-', 'g')), ''),
    'project-' || id
)
WHERE slug IS NULL;

ALTER TABLE projects ALTER COLUMN slug SET NOT NULL;

ALTER TABLE projects ADD CONSTRAINT projects_owner_id_slug_key UNIQUE (owner_id, slug);
