package orders

// Outcome is what an event does to an order.
type Outcome string

// The outcomes of an event. Ignored events are late or out of order
// (partners do send them so); conflicts contradict a final state and are
// listed for operators; illegal ones are refused with 409.
const (
	Applied  Outcome = "applied"
	Ignored  Outcome = "ignored"
	Conflict Outcome = "conflict"
	Illegal  Outcome = "illegal"
)

// progress orders the forward states: an order only ever moves up.
var progress = map[Status]int{
	StatusReceived: 0, StatusShared: 1, StatusAccepted: 2, StatusShipped: 3, StatusDelivered: 4,
}

// Decide returns the outcome of an event that would move an order from
// state from to state to. The order never moves backwards.
func Decide(from, to Status) Outcome {
	if from == to {
		return Ignored
	}
	switch from {
	case StatusCancelled, StatusRejected:
		if to == StatusShipped || to == StatusDelivered {
			return Conflict // goods may be on their way
		}
		return Ignored
	case StatusDelivered:
		if to == StatusCancelled || to == StatusRejected {
			return Illegal
		}
		return Ignored
	}
	switch to {
	case StatusCancelled, StatusRejected:
		if progress[from] >= progress[StatusShipped] {
			return Illegal
		}
		return Applied
	}
	if progress[to] > progress[from] {
		return Applied
	}
	return Ignored
}
