package quickbooks

import (
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
)

// RateLimit is the Accounting API's throttle per realm (company) and app, as Intuit published it
// ("QuickBooks Online API throttling changes", Intuit developer blog, 2016-08-08, in force since
// 2019): 500 requests per minute, batch requests included, and 10 requests in flight at once.
// Past either, Intuit answers 429 with a ThrottlingFault (ThrottleCode).
var RateLimit = contract.RateLimit{Requests: 500, Per: time.Minute, Concurrent: 10}

// ThrottleCode is the error code of Intuit's 429 answer ("message=ThrottleExceeded;
// errorCode=003001; statusCode=429").
const ThrottleCode = "3001"

// BatchRateLimit and MaxBatchItems are the batch endpoint's limits per realm, as Intuit published
// them ("Building Smarter with Intuit: Batch without a Scratch", Intuit developer blog,
// 2023-07-19): at most 30 payloads in one batch request and at most 40 batch requests a minute.
// A batch request counts toward RateLimit as one request as well.
var BatchRateLimit = contract.RateLimit{Requests: 40, Per: time.Minute}

// MaxBatchItems is the largest number of BatchItemRequest entries one batch request may carry.
const MaxBatchItems = 30
