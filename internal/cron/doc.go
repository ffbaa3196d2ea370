// Package cron parses five-field cron expressions and computes their next fire time in an IANA time zone.
//
// # Syntax
//
// An expression is five fields separated by blanks — minute (0-59), hour (0-23), day of month (1-31), month
// (1-12 or JAN-DEC) and day of week (0-7 or SUN-SAT, 0 and 7 both Sunday) — or one of the macros @yearly
// (= @annually, "0 0 1 1 *"), @monthly ("0 0 1 * *"), @weekly ("0 0 * * 0"), @daily (= @midnight,
// "0 0 * * *") and @hourly ("0 * * * *"). A field is a comma-separated list of elements; an element is `*`,
// a value, a range `a-b`, or one of these followed by a step `/n` (`a/n` means `a-<max>/n`). Names are
// case-insensitive. Ranges do not wrap (`5-1` is an error). Errors are *ParseError values naming the field.
//
// Day of month and day of week follow the usual rule: when both are restricted (neither is exactly `*`) a day
// matches if either matches ("0 0 13 * FRI" fires on every 13th and every Friday); otherwise both must match.
// An expression that can never fire (day of month 30 in February only) is refused when parsed.
//
// # Time zones and daylight saving time
//
// Fire times are wall-clock times in the schedule's zone (Schedule.Next). Where the clock jumps, two kinds of
// expressions behave differently, as in Vixie cron:
//
//   - Fixed-time expressions (neither the minute nor the hour field begins with `*`), e.g. "30 2 * * *":
//     a time that does not exist because the clock jumps forward fires once, when the jump ends (02:30 on a
//     spring-forward day fires at 03:00 local, the instant the clock shows 03:00); a time that occurs twice
//     because the clock falls back fires once, at its first occurrence.
//   - Elapsed-time expressions (the minute or the hour field begins with `*`, e.g. "*/15 * * * *",
//     "0 * * * *", @hourly): they follow the hours that really pass. Times skipped by a forward jump do not
//     fire; times of a repeated hour fire in both passes, so "0 * * * *" still fires once an hour.
//
// The zone database is embedded in the binary (time/tzdata), so zones work on hosts without one.
package cron
