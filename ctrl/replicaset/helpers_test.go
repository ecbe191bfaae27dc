package replicaset_test

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

func timestamp(sec int64) *timestamppb.Timestamp { return timestamppb.New(time.Unix(sec, 0)) }
