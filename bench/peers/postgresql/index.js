// Re-exports Emmett's PostgreSQL store, resolved from this package's own node_modules.
export * from '@event-driven-io/emmett-postgresql';
