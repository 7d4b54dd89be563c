package apiclient

import (
	"context"
	"time"
)

// User is a person who logs in, as GET /api/v1/users lists them.
type User struct {
	Name        string    `json:"name"`
	Role        string    `json:"role"`
	DisplayName string    `json:"display_name,omitempty"`
	Phone       string    `json:"phone,omitempty"`
	Supervisor  bool      `json:"supervisor,omitempty"`
	Sites       []string  `json:"sites,omitempty"`
	Created     time.Time `json:"created"`
	Disabled    bool      `json:"disabled,omitempty"`
}

// NewUser is the body of POST /api/v1/users.
type NewUser struct {
	Name        string   `json:"name"`
	Role        string   `json:"role"`
	Password    string   `json:"password"`
	DisplayName string   `json:"display_name,omitempty"`
	Phone       string   `json:"phone,omitempty"`
	Supervisor  bool     `json:"supervisor,omitempty"`
	Sites       []string `json:"sites,omitempty"`
}

// PasswordChange is the body of the password endpoints; Current only for one's own.
type PasswordChange struct {
	Current  string `json:"current,omitempty"`
	Password string `json:"password"`
}

// Users lists the people who log in (admins only).
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var out struct{ Users []User }
	return out.Users, c.do(ctx, "GET", "/api/v1/users", nil, "", &out)
}

// AddUser creates a person.
func (c *Client) AddUser(ctx context.Context, u NewUser) (User, error) {
	var out User
	return out, c.do(ctx, "POST", "/api/v1/users", u, "", &out)
}

// SetUserDisabled disables a person (their sessions end at once) or enables them again.
func (c *Client) SetUserDisabled(ctx context.Context, name string, disabled bool) (User, error) {
	verb := "enable"
	if disabled {
		verb = "disable"
	}
	var out User
	return out, c.do(ctx, "POST", "/api/v1/users/"+esc(name)+"/"+verb, nil, "", &out)
}

// RemoveUser removes a person; their sessions end.
func (c *Client) RemoveUser(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/api/v1/users/"+esc(name), nil, "", nil)
}

// ResetPassword sets someone's password (admins only); their sessions end.
func (c *Client) ResetPassword(ctx context.Context, name, password string) error {
	return c.do(ctx, "PUT", "/api/v1/users/"+esc(name)+"/password", PasswordChange{Password: password}, "", nil)
}

// ChangePassword changes the logged-in user's own password; their other sessions end.
func (c *Client) ChangePassword(ctx context.Context, current, password string) error {
	return c.do(ctx, "PUT", "/api/v1/me/password", PasswordChange{Current: current, Password: password}, "", nil)
}
