"""Pure values, no SQL: the API's vocabularies (`states`), data stores (`datastore`), the query
language's tree (`query`) and what operations answer (`results`)."""
