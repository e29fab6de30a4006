CREATE TABLE IF NOT EXISTS sales_by_country (
  country   text PRIMARY KEY,
  orders    bigint NOT NULL,
  customers bigint NOT NULL,
  revenue   numeric(18,2) NOT NULL,
  avg_order double precision,
  largest   numeric(12,2)
);
