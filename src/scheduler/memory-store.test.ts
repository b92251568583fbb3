import { MemorySchedulerStore } from './memory-store.js';
import { describeSchedulerStoreContract } from './store-contract.js';

describeSchedulerStoreContract('MemorySchedulerStore', () => new MemorySchedulerStore());
