DROP TABLE IF EXISTS customers;
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL);
INSERT INTO customers (id, name, country) VALUES
  (1, 'Ann', 'FR'), (2, 'Bob', 'IE'), (3, 'Chen', 'SG'), (4, 'Dana', 'FR');
