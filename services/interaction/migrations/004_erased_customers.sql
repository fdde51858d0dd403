-- Customers the profile service erased (CustomerChanged ERASED): when their records' free text
-- was scrubbed here. The record that the erasure happened; an erased customer stays deleted.
ALTER TABLE customers ADD COLUMN erased_at timestamptz;
