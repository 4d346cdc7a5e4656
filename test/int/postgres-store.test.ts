import type { EventStore } from '../../src/ports/event-store.js';
import { PostgresEventStore } from '../../src/drivers/postgres/store.js';
import { freshPgStore } from '../support/pg.js';
import { eventStoreContract } from './store-contract.js';

eventStoreContract('PostgresEventStore', async () => {
  const fresh = freshPgStore();
  const store = await PostgresEventStore.open(fresh.url, { create: true });
  return {
    store: store as unknown as EventStore<unknown>,
    cleanup: async () => {
      await store.close();
      await fresh.drop();
    },
  };
});
