-- Drop the users table and its case-insensitive email index.
DROP INDEX users_email_lower_key;
DROP TABLE users;
