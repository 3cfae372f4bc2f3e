package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// clientLimiter is a token bucket per client address. Buckets that have
// been idle long enough to be full again are removed, so the map only
// contains the addresses of recent clients.
type clientLimiter struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	buckets   map[string]*clientBucket
	lastSweep time.Time
}

type clientBucket struct {
	limiter  *rate.Limiter
	lastSeen time.Time
}

func newClientLimiter(perMinute, burst int) *clientLimiter {
	return &clientLimiter{
		limit:   rate.Limit(float64(perMinute) / 60),
		burst:   burst,
		buckets: map[string]*clientBucket{},
	}
}

// reserve takes one token of address's bucket. When none is left it takes
// nothing and returns how long until one is.
func (l *clientLimiter) reserve(address string, now time.Time) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)

	bucket, found := l.buckets[address]
	if !found {
		bucket = &clientBucket{limiter: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[address] = bucket
	}
	bucket.lastSeen = now

	reservation := bucket.limiter.ReserveN(now, 1)
	if delay := reservation.DelayFrom(now); delay > 0 {
		reservation.CancelAt(now)
		return false, delay
	}
	return true, 0
}

// sweep removes the buckets that have refilled completely, at most once a
// minute. The caller holds l.mu.
func (l *clientLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	refill := time.Duration(float64(l.burst) / float64(l.limit) * float64(time.Second))
	for address, bucket := range l.buckets {
		if now.Sub(bucket.lastSeen) > refill {
			delete(l.buckets, address)
		}
	}
}

// rateLimit rejects a request with 429 rate_limited and Retry-After when
// its client address has used up its bucket in l. requestKind names the
// requests in the error message.
func rateLimit(l *clientLimiter, requestKind string) gin.HandlerFunc {
	return func(c *gin.Context) {
		ok, wait := l.reserve(clientAddress(c), time.Now())
		if ok {
			c.Next()
			return
		}
		seconds := int(math.Ceil(wait.Seconds()))
		c.Header("Retry-After", strconv.Itoa(seconds))
		writeError(c, http.StatusTooManyRequests, "rate_limited",
			fmt.Sprintf("too many %s from %s; retry after %d seconds", requestKind, clientAddress(c), seconds))
	}
}
