-- Pipeline versions are immutable: what an agent was told to run must stay provable.
-- Only the publication columns (published, published_at, published_by) may change.
CREATE OR REPLACE FUNCTION pipeline_versions_immutable() RETURNS trigger AS $$
BEGIN
  IF NEW.pipeline_id IS DISTINCT FROM OLD.pipeline_id
     OR NEW.version IS DISTINCT FROM OLD.version
     OR NEW.selector IS DISTINCT FROM OLD.selector
     OR NEW.config IS DISTINCT FROM OLD.config
     OR NEW.content_hash IS DISTINCT FROM OLD.content_hash
     OR NEW.author_id IS DISTINCT FROM OLD.author_id AND NEW.author_id IS NOT NULL
     OR NEW.note IS DISTINCT FROM OLD.note
     OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
    RAISE EXCEPTION 'pipeline version % of pipeline % is immutable', OLD.version, OLD.pipeline_id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER pipeline_versions_immutable
  BEFORE UPDATE ON pipeline_versions
  FOR EACH ROW EXECUTE FUNCTION pipeline_versions_immutable();
