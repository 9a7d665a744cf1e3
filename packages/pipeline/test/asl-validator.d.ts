// asl-validator ships no types.
declare module "asl-validator" {
  export default function aslValidator(definition: unknown): {
    isValid: boolean;
    errors: { message: string }[];
    errorsText(separator?: string): string;
  };
}
