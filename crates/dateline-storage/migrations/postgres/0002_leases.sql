-- Leases: which node does, for now, what must be done once however many nodes run (a webhook's
-- deliveries, a CDN's purges, a WebSub hub's pings). A node holds a lease while it renews it;
-- another takes it over once `until` (Unix milliseconds) has passed.
CREATE TABLE leases (
    name   TEXT   PRIMARY KEY,
    holder TEXT   NOT NULL,
    until  BIGINT NOT NULL
);
