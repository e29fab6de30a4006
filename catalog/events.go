package catalog

import "fmt"

// admitEvents applies the execution's logging level and event cap to evs
// before they are stored. Once the cap is reached one EventTruncated event is
// written and later events are dropped, except status changes (and the
// notification's record), so that the log still shows how the execution
// ended. It only reads e and evs, so every
// server keeps the same events.
func (e *Execution) admitEvents(evs []Event) []Event {
	if e.LoggingLevel == "" && e.MaxEvents == 0 {
		return evs
	}
	out := make([]Event, 0, len(evs))
	for _, ev := range evs {
		if !KeepEvent(e.LoggingLevel, ev.Type) {
			continue
		}
		if e.MaxEvents > 0 && ev.Type != EventStatusChange && ev.Type != EventNotification {
			if e.Truncated {
				continue
			}
			if e.EventCount+uint64(len(out))+1 >= e.MaxEvents {
				e.Truncated = true
				out = append(out, Event{Time: ev.Time, Type: EventTruncated, Attempt: ev.Attempt,
					Message: fmt.Sprintf("event log truncated: the cap of %d events per execution was reached; later events are dropped", e.MaxEvents)})
				continue
			}
		}
		out = append(out, ev)
	}
	return out
}
