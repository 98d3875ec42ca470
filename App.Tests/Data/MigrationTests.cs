using Microsoft.EntityFrameworkCore;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Data;

public sealed class MigrationTests
{
    [Fact]
    public async Task The_migrations_build_the_whole_model_on_an_empty_database()
    {
        var name = await TestDatabase.CreateEmptyAsync();
        try
        {
            // As the owner (the app's role may not create tables).
            await using var db = TestDatabase.NewContext(TestEnvironment.AdminConnectionFor(name));
            var all = db.Database.GetMigrations().ToList();
            Assert.NotEmpty(all);
            Assert.Equal(all, await db.Database.GetPendingMigrationsAsync());

            await db.Database.MigrateAsync();

            Assert.Empty(await db.Database.GetPendingMigrationsAsync());
            Assert.Equal(all, await db.Database.GetAppliedMigrationsAsync());
            // The migrations end where the model is: no change in the entity classes is missing a migration.
            Assert.False(db.Database.HasPendingModelChanges(), "The model has changes no migration captures: add one with dotnet ef (see README).");
            // And what they built is usable: every entity set can be queried.
            Assert.Equal(0, await db.Users.CountAsync());
            Assert.Equal(0, await db.Sessions.CountAsync());
            Assert.Equal(0, await db.Outbox.CountAsync());
        }
        finally
        {
            await TestDatabase.DropAsync(name);
        }
    }
}
