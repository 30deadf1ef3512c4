ALTER TABLE "agent_stats" ADD COLUMN "samples_filtered" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "config_build_error" text;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "config_build_error_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "enrollment_tokens" ADD COLUMN "allow_agent_labels" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "pipeline_versions" ADD COLUMN "source" text;--> statement-breakpoint
ALTER TABLE "pipeline_versions" ADD COLUMN "account_refs" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "stats_rollups" ADD COLUMN "samples_filtered" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "failed_sign_ins" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "locked_until" timestamp with time zone;--> statement-breakpoint
-- Versions saved before account references were kept by id: bind each reference to the account it names now.
UPDATE "pipeline_versions" v SET "account_refs" = coalesce((
  SELECT jsonb_object_agg(r.ref, a.id::text)
  FROM (
    SELECT DISTINCT rw->>'aws_account' AS ref
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(v.config->'remote_write') = 'array' THEN v.config->'remote_write' ELSE '[]'::jsonb END) rw
    WHERE jsonb_typeof(rw) = 'object' AND rw ? 'aws_account'
  ) r
  JOIN "aws_accounts" a ON a.name = r.ref OR a.account_id = r.ref
), '{}'::jsonb);
--> statement-breakpoint
-- The kept YAML and the account bindings are part of what a version is: immutable too.
CREATE OR REPLACE FUNCTION pipeline_versions_immutable() RETURNS trigger AS $$
BEGIN
  IF NEW.pipeline_id IS DISTINCT FROM OLD.pipeline_id
     OR NEW.version IS DISTINCT FROM OLD.version
     OR NEW.selector IS DISTINCT FROM OLD.selector
     OR NEW.config IS DISTINCT FROM OLD.config
     OR NEW.source IS DISTINCT FROM OLD.source
     OR NEW.account_refs IS DISTINCT FROM OLD.account_refs
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
