-- Heartbeat stats become per-minute deltas: the cumulative rows kept so far cannot be converted.
DELETE FROM "agent_stats";--> statement-breakpoint
CREATE TABLE "agent_connections" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "agent_connections_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"agent_id" uuid NOT NULL,
	"connected_at" timestamp with time zone NOT NULL,
	"disconnected_at" timestamp with time zone,
	"replica" text NOT NULL,
	"source_ip" text,
	"close_reason" text
);
--> statement-breakpoint
CREATE TABLE "agent_errors" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "agent_errors_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"agent_id" uuid NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"destination" text NOT NULL,
	"url" text NOT NULL,
	"error_class" text NOT NULL,
	"code" text,
	"status" integer,
	"message" text NOT NULL,
	"detail" text
);
--> statement-breakpoint
CREATE TABLE "stats_rollups" (
	"scope" text NOT NULL,
	"step_seconds" integer NOT NULL,
	"bucket" timestamp with time zone NOT NULL,
	"samples_scraped" bigint DEFAULT 0 NOT NULL,
	"samples_sent" bigint DEFAULT 0 NOT NULL,
	"samples_dropped" bigint DEFAULT 0 NOT NULL,
	"samples_retried" bigint DEFAULT 0 NOT NULL,
	"dropped_by_reason" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"agents" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "stats_rollups_scope_step_seconds_bucket_pk" PRIMARY KEY("scope","step_seconds","bucket"),
	CONSTRAINT "stats_rollups_step_check" CHECK ("stats_rollups"."step_seconds" in (60, 300))
);
--> statement-breakpoint
DROP INDEX "agent_stats_at_idx";--> statement-breakpoint
ALTER TABLE "agent_stats" DROP CONSTRAINT "agent_stats_agent_id_at_pk";--> statement-breakpoint
ALTER TABLE "agent_stats" ALTER COLUMN "at" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "agent_stats" ALTER COLUMN "detail" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "agent_stats" ALTER COLUMN "detail" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "agent_stats" ADD COLUMN "bucket" timestamp with time zone NOT NULL;--> statement-breakpoint
ALTER TABLE "agent_stats" ADD CONSTRAINT "agent_stats_agent_id_bucket_pk" PRIMARY KEY("agent_id","bucket");--> statement-breakpoint
ALTER TABLE "agent_stats" ADD COLUMN "samples_retried" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "agent_stats" ADD COLUMN "failed_sends" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "agent_stats" ADD COLUMN "by_pipeline" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "agent_stats" ADD COLUMN "by_destination" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "last_counters" jsonb;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "health" text DEFAULT 'healthy' NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "findings" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "last_drop_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "desired_config" jsonb;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "applied_config" jsonb;--> statement-breakpoint
ALTER TABLE "agent_connections" ADD CONSTRAINT "agent_connections_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_errors" ADD CONSTRAINT "agent_errors_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "agent_connections_agent_idx" ON "agent_connections" USING btree ("agent_id","connected_at");--> statement-breakpoint
CREATE INDEX "agent_errors_agent_idx" ON "agent_errors" USING btree ("agent_id","at");--> statement-breakpoint
CREATE INDEX "agent_errors_at_idx" ON "agent_errors" USING btree ("at");--> statement-breakpoint
CREATE INDEX "stats_rollups_bucket_idx" ON "stats_rollups" USING btree ("step_seconds","bucket");--> statement-breakpoint
CREATE INDEX "agent_stats_bucket_idx" ON "agent_stats" USING btree ("bucket","agent_id");--> statement-breakpoint
CREATE INDEX "agents_health_idx" ON "agents" USING btree ("connected","health");--> statement-breakpoint
ALTER TABLE "agents" ADD CONSTRAINT "agents_health_check" CHECK ("agents"."health" in ('healthy', 'degraded', 'failing'));