-- ListCustomers pages (issue #12): every filter served by an index whose columns are the filter
-- and then the list order (legal_name, id), over active customers only (the default list), so a
-- page is an index range scan of page_size rows: first page or deep page, any table size. The
-- constant `state = 1` in the list statement matches these partial indexes.
CREATE INDEX customers_active_by_name ON customers (legal_name, id) WHERE state = 1;
CREATE INDEX customers_active_by_owner ON customers (owner, legal_name, id) WHERE state = 1;
CREATE INDEX customers_active_by_province ON customers (province, legal_name, id) WHERE state = 1;
CREATE INDEX customers_active_by_city ON customers (city, legal_name, id) WHERE state = 1;
CREATE INDEX customers_active_by_industry ON customers (industry, legal_name, id) WHERE state = 1;
CREATE INDEX customers_active_by_stage ON customers (lifecycle_stage, legal_name, id)
  WHERE state = 1;
CREATE INDEX customers_active_by_nature ON customers (nature, legal_name, id) WHERE state = 1;
-- Lists that include deleted customers (admins) are rare: the name index serves them, and the
-- per-filter indexes over every state are replaced by the active ones above.
DROP INDEX customers_by_owner;
DROP INDEX customers_by_province;
DROP INDEX customers_by_industry;
