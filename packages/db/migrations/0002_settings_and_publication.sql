CREATE TABLE "app_settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "pipeline_versions" ADD COLUMN "publish_note" text;--> statement-breakpoint
CREATE UNIQUE INDEX "pipeline_versions_one_published_key" ON "pipeline_versions" USING btree ("pipeline_id") WHERE "pipeline_versions"."published";