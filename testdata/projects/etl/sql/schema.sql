-- Tables of the sample warehouse; safe to run again.
CREATE TABLE IF NOT EXISTS customers (
  id      INTEGER PRIMARY KEY,
  name    TEXT NOT NULL,
  country TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
  id          INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  amount      REAL NOT NULL,
  source      TEXT NOT NULL
);
DELETE FROM orders;
DELETE FROM customers;
