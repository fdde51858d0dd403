-- A sales rep lists the tiers of the customers they own (owner from CustomerChanged).
CREATE INDEX customers_by_owner ON customers (owner);
