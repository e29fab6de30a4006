package ssisexpr

import (
	"fmt"
	"math"
	"strings"
	"time"
)

type part uint8

const (
	partYear part = iota + 1
	partQuarter
	partMonth
	partDayOfYear
	partDay
	partWeek
	partWeekday
	partHour
	partMinute
	partSecond
	partMillisecond
)

// dateParts maps every datepart name and abbreviation SSIS recognises
// (not case-sensitive) to its part.
var dateParts = map[string]part{
	"year": partYear, "yy": partYear, "yyyy": partYear,
	"quarter": partQuarter, "qq": partQuarter, "q": partQuarter,
	"month": partMonth, "mm": partMonth, "m": partMonth,
	"dayofyear": partDayOfYear, "dy": partDayOfYear, "y": partDayOfYear,
	"day": partDay, "dd": partDay, "d": partDay,
	"week": partWeek, "wk": partWeek, "ww": partWeek,
	"weekday": partWeekday, "dw": partWeekday, "w": partWeekday,
	"hour": partHour, "hh": partHour,
	"minute": partMinute, "mi": partMinute, "n": partMinute,
	"second": partSecond, "ss": partSecond, "s": partSecond,
	"millisecond": partMillisecond, "ms": partMillisecond,
}

// partArg reads a datepart argument.
func partArg(v Value) (part, error) { return datePart(strOf(v)) }

func datePart(s string) (part, error) {
	p, ok := dateParts[strings.ToLower(strings.TrimSpace(s))]
	if !ok {
		return 0, fmt.Errorf("unknown datepart %q (want year, quarter, month, dayofyear, day, week, weekday, hour, minute, second, millisecond or an abbreviation)", s)
	}
	return p, nil
}

var dateFuncs = map[string]fnDef{
	"GETDATE": {args: "", result: fixed(DBTimestamp), eval: func(env Env, _ []Value, t Type) (Value, error) {
		now := env.Now().Local()
		wall := time.Date(now.Year(), now.Month(), now.Day(), now.Hour(), now.Minute(), now.Second(), now.Nanosecond(), time.UTC)
		return Value{T: t, v: wall.Truncate(time.Millisecond)}, nil
	}},
	"GETUTCDATE": {args: "", result: fixed(DBTimestamp), eval: func(env Env, _ []Value, t Type) (Value, error) {
		return Value{T: t, v: env.Now().UTC().Truncate(time.Millisecond)}, nil
	}},
	"DAY":   {args: "d", result: fixed(I4), eval: datePartFn(partDay)},
	"MONTH": {args: "d", result: fixed(I4), eval: datePartFn(partMonth)},
	"YEAR":  {args: "d", result: fixed(I4), eval: datePartFn(partYear)},
	"DATEPART": {args: "pd", result: fixed(I4), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		p, tm, err := args2(a, partArg, timeOf)
		if err != nil {
			return Value{}, err
		}
		return NewI4(int32(partOf(p, tm))), nil
	}},
	"DATEADD": {args: "pid", result: fixed(DBTimestamp), eval: func(_ Env, a []Value, t Type) (Value, error) {
		p, n, tm, err := args3(a, partArg, intOf, timeOf)
		if err != nil {
			return Value{}, err
		}
		r, err := dateAdd(p, n, tm.UTC())
		if err != nil {
			return Value{}, err
		}
		return Value{T: t, v: r}, nil
	}},
	"DATEDIFF": {args: "pdd", result: fixed(I4), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		p, t1, t2, err := args3(a, partArg, timeOf, timeOf)
		if err != nil {
			return Value{}, err
		}
		d := dateDiff(p, t1.UTC(), t2.UTC())
		if d < math.MinInt32 || d > math.MaxInt32 {
			return Value{}, fmt.Errorf("the difference %d overflows DT_I4", d)
		}
		return NewI4(int32(d)), nil
	}},
}

func datePartFn(p part) func(Env, []Value, Type) (Value, error) {
	return func(_ Env, a []Value, _ Type) (Value, error) {
		tm, err := timeOf(a[0])
		if err != nil {
			return Value{}, err
		}
		return NewI4(int32(partOf(p, tm))), nil
	}
}

// partOf returns one part of a date. Weeks start on Sunday and week 1 is
// the week of January 1 (SQL Server's defaults); weekday 1 is Sunday.
func partOf(p part, t time.Time) int {
	switch p {
	case partYear:
		return t.Year()
	case partQuarter:
		return (int(t.Month())-1)/3 + 1
	case partMonth:
		return int(t.Month())
	case partDayOfYear:
		return t.YearDay()
	case partDay:
		return t.Day()
	case partWeek:
		jan1 := time.Date(t.Year(), 1, 1, 0, 0, 0, 0, t.Location())
		return (t.YearDay()+int(jan1.Weekday())-1)/7 + 1
	case partWeekday:
		return int(t.Weekday()) + 1
	case partHour:
		return t.Hour()
	case partMinute:
		return t.Minute()
	case partSecond:
		return t.Second()
	}
	return t.Nanosecond() / 1e6
}

// maxDate is the last instant DT_DBTIMESTAMP holds.
var maxDate = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)

// dateAdd adds n parts. Adding months or years keeps the day but clamps
// it to the end of a shorter month (January 31 + 1 month is February 28
// or 29), as SQL Server does.
func dateAdd(p part, n int64, t time.Time) (time.Time, error) {
	if n > 1e10 || n < -1e10 {
		return time.Time{}, fmt.Errorf("the number %d is out of range", n)
	}
	var r time.Time
	switch p {
	case partYear, partQuarter, partMonth:
		months := n
		if p == partYear {
			months *= 12
		} else if p == partQuarter {
			months *= 3
		}
		total := int64(t.Year())*12 + int64(t.Month()-1) + months
		if total < 12 || total > 9999*12+11 {
			return time.Time{}, fmt.Errorf("the result is outside the years 1 to 9999")
		}
		y, m := int(total/12), time.Month(total%12+1)
		d := min(t.Day(), daysIn(y, m))
		r = time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	case partDay, partDayOfYear, partWeekday, partWeek:
		days := n
		if p == partWeek {
			days *= 7
		}
		if days > 4e6 || days < -4e6 {
			return time.Time{}, fmt.Errorf("the result is outside the years 1 to 9999")
		}
		r = t.AddDate(0, 0, int(days))
	default:
		unit := map[part]time.Duration{partHour: time.Hour, partMinute: time.Minute, partSecond: time.Second, partMillisecond: time.Millisecond}[p]
		if d := int64(math.MaxInt64 / unit); n > d || n < -d {
			return time.Time{}, fmt.Errorf("the result is outside the years 1 to 9999")
		}
		r = t.Add(time.Duration(n) * unit)
	}
	if r.Year() < 1 || r.After(maxDate) {
		return time.Time{}, fmt.Errorf("the result is outside the years 1 to 9999")
	}
	return r, nil
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// dateDiff counts the part boundaries crossed from t1 to t2 (negative
// when t2 is earlier), as SQL Server's DATEDIFF does.
func dateDiff(p part, t1, t2 time.Time) int64 {
	civil := func(t time.Time) int64 { // days since 0001-01-01
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix()/86400 + 719162
	}
	switch p {
	case partYear:
		return int64(t2.Year() - t1.Year())
	case partQuarter:
		q := func(t time.Time) int64 { return int64(t.Year())*4 + int64(t.Month()-1)/3 }
		return q(t2) - q(t1)
	case partMonth:
		m := func(t time.Time) int64 { return int64(t.Year())*12 + int64(t.Month()) }
		return m(t2) - m(t1)
	case partDay, partDayOfYear, partWeekday:
		return civil(t2) - civil(t1)
	case partWeek:
		// 0001-01-01 is a Monday: shift by one so weeks break on Sundays.
		w := func(t time.Time) int64 { return floorDiv(civil(t)+1, 7) }
		return w(t2) - w(t1)
	}
	unit := map[part]int64{partHour: 3600e3, partMinute: 60e3, partSecond: 1e3, partMillisecond: 1}[p]
	ms := func(t time.Time) int64 {
		return floorDiv(civil(t)*86400e3+int64(t.Hour()*3600+t.Minute()*60+t.Second())*1e3+int64(t.Nanosecond()/1e6), unit)
	}
	return ms(t2) - ms(t1)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
