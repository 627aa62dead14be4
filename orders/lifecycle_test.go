package orders

import "testing"

func TestDecideNeverMovesBackwards(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from, to Status
		want     Outcome
	}{
		{StatusReceived, StatusShared, Applied},
		{StatusReceived, StatusAccepted, Applied},
		{StatusShared, StatusAccepted, Applied},
		{StatusAccepted, StatusShipped, Applied},
		{StatusReceived, StatusShipped, Applied},
		{StatusShipped, StatusDelivered, Applied},
		{StatusReceived, StatusDelivered, Applied},
		{StatusShipped, StatusAccepted, Ignored},
		{StatusAccepted, StatusShared, Ignored},
		{StatusAccepted, StatusAccepted, Ignored},
		{StatusDelivered, StatusShipped, Ignored},
		{StatusDelivered, StatusAccepted, Ignored},
		{StatusAccepted, StatusRejected, Applied},
		{StatusShared, StatusCancelled, Applied},
		{StatusShipped, StatusRejected, Illegal},
		{StatusShipped, StatusCancelled, Illegal},
		{StatusDelivered, StatusRejected, Illegal},
		{StatusCancelled, StatusShipped, Conflict},
		{StatusCancelled, StatusDelivered, Conflict},
		{StatusRejected, StatusShipped, Conflict},
		{StatusCancelled, StatusAccepted, Ignored},
		{StatusRejected, StatusAccepted, Ignored},
		{StatusCancelled, StatusRejected, Ignored},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"_to_"+string(tt.to)+"_is_"+string(tt.want), func(t *testing.T) {
			t.Parallel()
			if got := Decide(tt.from, tt.to); got != tt.want {
				t.Errorf("Decide(%s, %s) = %s, want %s", tt.from, tt.to, got, tt.want)
			}
		})
	}
}
