package maildir

// SetStagedFDCap sets how many unnamed staged files s may hold open, so
// tests can reach the cap with a few appends.
func SetStagedFDCap(s *Store, n int) {
	s.mu.Lock()
	s.tempCap = n
	s.mu.Unlock()
}
