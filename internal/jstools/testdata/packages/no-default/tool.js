export const notAFactory = 42;
