"""Recipes: small step objects that say what one D update and one G update are."""
