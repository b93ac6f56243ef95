// better-sqlite3 12 under an alias (liteque needs 11.9 under the real name): the same API.
declare module 'better-sqlite3-12' {
  import Database from 'better-sqlite3';
  export default Database;
}
