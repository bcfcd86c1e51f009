-- name: CreateCustomer :execrows
INSERT INTO customers (id, name, name_normalized, domain, country)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (domain) DO NOTHING;

-- name: FindCustomerCandidates :many
SELECT id, name_normalized, domain, country FROM customers
WHERE domain = sqlc.arg(domain)
   OR name_normalized = sqlc.arg(name)
   OR (country = sqlc.arg(country) AND left(name_normalized, 2) = left(sqlc.arg(name), 2))
LIMIT 500;
