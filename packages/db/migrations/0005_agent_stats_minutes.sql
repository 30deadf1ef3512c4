ALTER TABLE "agent_stats" DROP COLUMN "at";--> statement-breakpoint
ALTER TABLE "agent_stats" DROP COLUMN "detail";