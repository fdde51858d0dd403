-- One full job at a time: a second start gets the running one (or, for a rule set's activation,
-- FAILED_PRECONDITION). A job started by ActivateRuleSet names the rule set it applies; the
-- writer that runs a job claims it, so that a new writer marks the jobs of one that died as
-- failed (a full run) or takes them over (an activation).
UPDATE jobs SET state = 'failed', ended_at = now(),
  error = 'interrupted: stopped before the upgrade that keeps one full job at a time'
  WHERE state = 'running';
ALTER TABLE jobs
  ADD COLUMN rule_set_version bigint,
  ADD COLUMN claimed_by text;
CREATE UNIQUE INDEX jobs_one_running ON jobs ((true)) WHERE state = 'running';
