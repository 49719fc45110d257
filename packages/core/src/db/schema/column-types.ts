import type { ColumnType } from 'kysely'

/** timestamptz: read as Date, written as Date or ISO string, defaulted by the database. */
export type CreatedAt = ColumnType<Date, Date | string | undefined, Date | string>
/** timestamptz that every insert sets. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>
/** timestamptz that may be null. */
export type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
/** json/jsonb written as a JSON string, read parsed. */
export type Json<T> = ColumnType<T, string, string>
