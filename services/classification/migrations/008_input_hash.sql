-- The fingerprint of what a tier's evaluation depended on (EvaluationHash in tier_rules.h): a
-- full reclassification re-evaluates only the customers whose inputs differ from it. NULL:
-- evaluated before there was one (re-evaluated once).
ALTER TABLE tiers ADD COLUMN input_hash bigint;
