-- +goose Up
-- Failed authentications counted for every API replica at once: a caller that
-- fails against one replica is throttled on all of them. One row per caller
-- (an address or a key id) and minute; unlogged, as a throttle's memory need
-- not survive a crash; rows older than an hour are swept by housekeeping.
CREATE UNLOGGED TABLE auth_failures (
    who          text NOT NULL,
    window_start timestamptz NOT NULL,
    failures     integer NOT NULL CHECK (failures > 0),
    PRIMARY KEY (who, window_start)
);

-- +goose Down
DROP TABLE auth_failures;
