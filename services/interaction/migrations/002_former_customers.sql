-- Former customers (profile lifecycle stage FORMER) keep their records but leave follow-up plans.
ALTER TABLE customers ADD COLUMN former boolean NOT NULL DEFAULT false;
