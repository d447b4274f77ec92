-- The SHA-256 of the pipeline spec a job was submitted with (its text is an
-- artifact under that hash): a resumed or edited job runs that spec, even
-- after an operator edits the pipeline's file. NULL for jobs from before.
ALTER TABLE jobs ADD COLUMN pipeline_sha256 TEXT;
