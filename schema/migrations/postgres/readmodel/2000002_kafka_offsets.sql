-- Where a projector consuming Kafka stands: the next offset of each partition of the events
-- topic, written in the same transaction as the rows those messages produced (so a projector
-- killed at any point resumes exactly after its last commit).
CREATE TABLE rm_kafka_offsets (
    topic       TEXT    NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset BIGINT  NOT NULL CHECK (next_offset >= 0),
    PRIMARY KEY (topic, partition)
);
