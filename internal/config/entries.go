package config

import (
	"crypto/ed25519"
	"fmt"
	"net/url"
	"slices"
)

// Validation of the entries of JSON list and map variables. Errors name the entry, never a secret value.

func validateProviderKeys(keys []SystemProviderKey) error {
	var ids []string
	for i, k := range keys {
		if err := validateProviderKey(i, k, ids); err != nil {
			return err
		}
		ids = append(ids, k.ID)
	}
	return nil
}

func validateProviderKey(i int, k SystemProviderKey, seen []string) error {
	switch {
	case k.ID == "":
		return fmt.Errorf("entry %d has no id", i)
	case slices.Contains(seen, k.ID):
		return fmt.Errorf("id %q is used twice", k.ID)
	case k.ProviderID == "":
		return fmt.Errorf("entry %q has no providerId", k.ID)
	case k.APIKey == "":
		return fmt.Errorf("entry %q has no apiKey", k.ID)
	}
	if k.BaseURLOverride != "" {
		if _, ok := parseURL(k.BaseURLOverride, "http", "https"); !ok {
			return fmt.Errorf("entry %q: baseUrlOverride is not an http(s) URL", k.ID)
		}
	}
	for j, m := range k.Models {
		if m.ModelID == "" {
			return fmt.Errorf("entry %q: model %d has no modelId", k.ID, j)
		}
	}
	return nil
}

func validateProxies(proxies []SystemProxy) error {
	var ids []string
	for i, p := range proxies {
		switch {
		case p.ID == "":
			return fmt.Errorf("entry %d has no id", i)
		case slices.Contains(ids, p.ID):
			return fmt.Errorf("id %q is used twice", p.ID)
		case p.Label == "":
			return fmt.Errorf("entry %q has no label", p.ID)
		}
		if _, err := parseProxyURL(p.URL); err != nil {
			return fmt.Errorf("entry %q: url is not %v", p.ID, err)
		}
		ids = append(ids, p.ID)
	}
	return nil
}

func validateOIDCClients(clients []OIDCInstanceClient) error {
	var ids []string
	for i, cl := range clients {
		switch {
		case cl.ClientID == "":
			return fmt.Errorf("entry %d has no clientId", i)
		case slices.Contains(ids, cl.ClientID):
			return fmt.Errorf("clientId %q is used twice", cl.ClientID)
		case cl.Name == "":
			return fmt.Errorf("client %q has no name", cl.ClientID)
		case len(cl.RedirectURIs) == 0:
			return fmt.Errorf("client %q has no redirectUris", cl.ClientID)
		}
		for _, u := range slices.Concat(cl.RedirectURIs, cl.PostLogoutRedirectURIs) {
			if p, err := url.Parse(u); err != nil || p.Scheme == "" {
				return fmt.Errorf("client %q: %q is not an absolute URI", cl.ClientID, u)
			}
		}
		ids = append(ids, cl.ClientID)
	}
	return nil
}

func validateTrustRoot(keys []TrustedKey) error {
	var ids []string
	for i, k := range keys {
		switch {
		case k.KeyID == "":
			return fmt.Errorf("entry %d has no keyId", i)
		case slices.Contains(ids, k.KeyID):
			return fmt.Errorf("keyId %q is used twice", k.KeyID)
		case len(k.PublicKey) != ed25519.PublicKeySize:
			return fmt.Errorf("key %q: publicKey must be the base64 of a 32-byte Ed25519 public key", k.KeyID)
		}
		ids = append(ids, k.KeyID)
	}
	return nil
}

func validateAuthSecrets(m map[string]string) error {
	for _, kid := range sortedKeys(m) {
		if !kidPattern.MatchString(kid) {
			return fmt.Errorf("key id %q is not %s", kid, kidForm)
		}
		if len(m[kid]) < 32 {
			return fmt.Errorf("secret %q is shorter than 32 characters", kid)
		}
	}
	return nil
}

func validateRetiredKeys(m map[string][]byte) error {
	for _, kid := range sortedKeys(m) {
		if !kidPattern.MatchString(kid) {
			return fmt.Errorf("key id %q is not %s", kid, kidForm)
		}
		if len(m[kid]) != 32 {
			return fmt.Errorf("key %q does not decode to 32 bytes", kid)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
