-- +goose Up
-- People who sign in to the portal. A partner user acts for one partner; staff
-- (admin, manager, finance) for the whole installation. API keys stay for machines.
CREATE TABLE users (
    id          uuid PRIMARY KEY,
    email       text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    name        text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    role        text NOT NULL CHECK (role IN ('admin', 'manager', 'finance', 'partner')),
    partner_id  uuid REFERENCES partners (id),
    invited_by  uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz,
    CHECK ((role = 'partner') = (partner_id IS NOT NULL))
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_partner_idx ON users (partner_id) WHERE partner_id IS NOT NULL;

-- A sign-in link: only its hash is kept; short-lived and used once.
CREATE TABLE sign_in_tokens (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_tokens_user_idx ON sign_in_tokens (user_id, created_at);

-- A signed-in browser: the cookie holds the session's secret, the table its hash.
-- Every form of the session carries its CSRF token.
CREATE TABLE sessions (
    id_hash      bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id),
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- +goose Down
DROP TABLE sessions, sign_in_tokens, users;
