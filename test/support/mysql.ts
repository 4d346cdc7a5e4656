/** The MariaDB test server now lives in the registry of backends (backends.ts). */
export { describeMysql, freshMysqlDatabase, mysqlServerUrl } from './backends.js';
