-- Who runs a job: a host claims it (pending, or running with a lapsed
-- lease) in one compare-and-set UPDATE and keeps `heartbeat_at` fresh while
-- it runs, so two hosts on one store never run the same job, and a job whose
-- host died is picked up once its lease lapses.
ALTER TABLE jobs ADD COLUMN owner TEXT;
ALTER TABLE jobs ADD COLUMN heartbeat_at BIGINT;
