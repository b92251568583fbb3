import { defineDashboard } from 'tributary';

/**
 * Listening activity from the star schema: plays per day and per hour, top songs and artists,
 * free vs paid users, sessions. The queries are those of dashboards/queries.sql, shaped for each
 * tile kind. Top songs and artists read the log's own names (staging_events): the 71-song
 * catalogue subset matches a single play, so songplays ⋈ songs would show one song.
 */

/** Listening sessions: a session is a (user_id, session_id) pair, so a reused id is another session. */
const sessions = `SELECT user_id, session_id, count(*) AS songs FROM songplays GROUP BY ALL`;

export default defineDashboard({
  title: 'Sparkify listening',
  description: 'Song plays of November 2018 from the star schema (UTC); each daily run adds its day.',
  tabs: [
    {
      title: 'Listening',
      tiles: [
        { id: 'plays', title: 'Song plays', kind: 'kpi', sql: 'SELECT count(*) AS value FROM songplays', width: 3 },
        { id: 'listeners', title: 'Listeners', kind: 'kpi', sql: 'SELECT count(DISTINCT user_id) AS value FROM songplays', width: 3 },
        { id: 'sessions', title: 'Listening sessions', kind: 'kpi', sql: `SELECT count(*) AS value FROM (${sessions})`, width: 3 },
        {
          id: 'songs_per_session',
          title: 'Songs per session',
          kind: 'kpi',
          sql: `SELECT round(avg(songs), 2) AS value FROM (${sessions})`,
          width: 3,
        },
        {
          id: 'plays_per_day',
          title: 'Plays per day',
          kind: 'timeseries',
          sql: 'SELECT CAST(start_time AS DATE) AS day, count(*) AS plays FROM songplays GROUP BY ALL ORDER BY day',
          width: 8,
        },
        {
          id: 'plays_by_level',
          title: 'Plays by level at the time',
          kind: 'pie',
          sql: 'SELECT level, count(*) AS plays FROM songplays GROUP BY ALL ORDER BY level',
          width: 4,
        },
        {
          id: 'plays_per_hour',
          title: 'Plays per hour of the day (UTC)',
          kind: 'bar',
          // Through the time dimension (one row per start_time, so no play counts twice); every hour shown.
          sql: `SELECT hours.hour, count(play.start_time) AS plays
                FROM range(24) AS hours(hour)
                LEFT JOIN (SELECT songplays.start_time, time.hour FROM songplays JOIN time ON time.start_time = songplays.start_time) AS play
                  ON play.hour = hours.hour
                GROUP BY ALL ORDER BY hours.hour`,
          width: 12,
        },
        {
          id: 'top_songs',
          title: 'Top 10 songs',
          kind: 'bar',
          sql: `SELECT song || ' — ' || artist AS title, count(*) AS plays FROM staging_events
                WHERE page = 'NextSong' GROUP BY song, artist ORDER BY plays DESC, title LIMIT 10`,
          width: 6,
        },
        {
          id: 'top_artists',
          title: 'Top 10 artists',
          kind: 'bar',
          sql: `SELECT artist, count(*) AS plays FROM staging_events WHERE page = 'NextSong' GROUP BY ALL ORDER BY plays DESC, artist LIMIT 10`,
          width: 6,
        },
      ],
    },
    {
      title: 'Users',
      tiles: [
        { id: 'users', title: 'Users', kind: 'kpi', sql: 'SELECT count(*) AS value FROM users', width: 4 },
        { id: 'paid_users', title: 'Paid users now', kind: 'kpi', sql: `SELECT count(*) FILTER (WHERE level = 'paid') AS value FROM users`, width: 4 },
        {
          id: 'paid_share',
          title: 'Share of plays by paid users',
          kind: 'kpi',
          sql: `SELECT count(*) FILTER (WHERE level = 'paid') / count(*) AS value FROM songplays`,
          width: 4,
          format: 'percent',
        },
        {
          id: 'users_by_level',
          title: 'Free vs paid users (latest level)',
          kind: 'pie',
          sql: 'SELECT level, count(*) AS users FROM users GROUP BY ALL ORDER BY level',
          width: 4,
        },
        {
          id: 'free_vs_paid',
          title: 'Free vs paid: users and plays',
          kind: 'table',
          sql: `SELECT level, coalesce(user_counts.users, 0) AS users, coalesce(play_counts.plays, 0) AS plays
                FROM (SELECT level, count(*) AS users FROM users GROUP BY ALL) AS user_counts
                FULL JOIN (SELECT level, count(*) AS plays FROM songplays GROUP BY ALL) AS play_counts USING (level)
                ORDER BY level`,
          width: 8,
        },
        {
          id: 'top_listeners',
          title: 'Most active listeners',
          kind: 'table',
          sql: `SELECT u.user_id, u.first_name, u.last_name, u.level, count(*) AS plays, count(DISTINCT p.session_id) AS sessions
                FROM songplays p JOIN users u USING (user_id) GROUP BY ALL ORDER BY plays DESC, u.user_id LIMIT 10`,
          width: 12,
        },
      ],
    },
  ],
});
