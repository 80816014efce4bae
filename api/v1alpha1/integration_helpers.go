package v1alpha1

// RotatesRefreshTokens reports whether the system's OAuth token endpoint hands out a new refresh
// token with each access token and retires the old one: Intuit (QuickBooks) and GoHighLevel do;
// Zoho's refresh tokens do not change, and Cerbo and webhooks use none. For such a side the
// operator writes the rotated token back to the vault (a PushSecret), and the purge lists it.
func (s System) RotatesRefreshTokens() bool {
	return s == SystemQuickBooks || s == SystemGoHighLevel
}
